"""Audio failures through the real PortAudio stack: each becomes a named AudioUnavailable,
and the host process keeps running."""

from __future__ import annotations

from support.audio_sink import run_sink

from progdemix_tui.playback import AudioUnavailable

NO_DEFAULT = 'pcm.!default { type plug slave.pcm "no_such_pcm" }\n'

PLAY_AND_REPORT = """
    p = Player(44100)
    p.add("A", ramp(44100), 44100)
    try:
        p.play()
        report(kind=None)
    except AudioUnavailable as err:
        report(kind=err.kind, msg=str(err), error=str(p.state.error), devices=DEVICES)
"""


def _devices_code() -> str:
    return """
    from progdemix_tui.playback import list_output_devices
    DEVICES = [d.name for d in list_output_devices()]
    """


def test_no_output_device(tmp_path):
    res, _, _ = run_sink(tmp_path, _devices_code() + PLAY_AND_REPORT, asoundrc=NO_DEFAULT)
    assert res["kind"] == "no_device" and res["devices"] == []
    assert "no audio output device" in res["msg"] and res["error"] == res["msg"]
    assert "Listening over SSH" not in res["msg"]


def test_no_output_device_over_ssh_points_to_the_readme(tmp_path):
    res, _, _ = run_sink(tmp_path, _devices_code() + PLAY_AND_REPORT, asoundrc=NO_DEFAULT,
                         env={"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22"})
    assert res["kind"] == "no_device"
    assert "Listening over SSH" in res["msg"] and "export" in res["msg"]


def test_unknown_device_name_lists_the_real_ones(tmp_path):
    res, _, _ = run_sink(tmp_path, _devices_code() + PLAY_AND_REPORT.replace(
        "Player(44100)", "Player(44100, device='no-such-card')"))
    assert res["kind"] == "invalid_device" and "default" in res["devices"]
    assert "no-such-card" in res["msg"] and "default" in res["msg"]


def test_no_portaudio_library_then_export_still_works(tmp_path):
    clips = (str(tmp_path / "a.wav"), str(tmp_path / "b.wav"))
    res, _, _ = run_sink(tmp_path, f"""
        import ctypes.util
        _find = ctypes.util.find_library
        ctypes.util.find_library = lambda name: None if "portaudio" in name else _find(name)
        DEVICES = None
        sr = 44100
        p = Player(sr)
        p.add("A", ramp(sr), sr)
        p.add("B", ramp(sr, sign=-1.0), sr)
        p.set_ab("A", "B", level_match=True)
        try:
            p.play()
            kind = msg = None
        except AudioUnavailable as err:
            kind, msg = err.kind, str(err)
        a, b = p.export_ab({clips[0]!r}, {clips[1]!r}, 0.1, 0.5)
        report(kind=kind, msg=msg, exported=[str(a), str(b)])
    """)
    assert res["kind"] == "no_portaudio"
    assert "PortAudio library not found" in res["msg"]
    assert "apt-get install libportaudio2" in res["msg"]
    assert all((tmp_path / name).exists() for name in ("a.wav", "b.wav"))


def test_device_lost_mid_play_is_reported_not_raised(tmp_path):
    res, _, proc = run_sink(tmp_path, """
        sr = 44100
        seen = []
        p = Player(sr, on_error=seen.append)
        p.add("A", ramp(2 * sr), sr)
        p.play()
        wait_until(lambda: p.state.error is not None)
        wait_until(lambda: seen)
        st = p.state
        p.close()
        report(kind=st.error.kind, msg=str(st.error), status=st.status, called=len(seen))
    """, die_after=40000)
    assert res["kind"] == "device_lost" and res["called"] == 1
    assert res["status"] != "playing" and "try again" in res["msg"]


def test_callback_failure_is_reported_not_raised(tmp_path):
    res, _, _ = run_sink(tmp_path, """
        from progdemix_tui.playback import Source
        class Broken(Source):
            samplerate, channels, frames = 44100, 2, 44100
            def _read(self, start, frames):
                raise RuntimeError("disk on fire")
        seen = []
        p = Player(44100, on_error=seen.append)
        p.add("bad", Broken())
        p.play()
        wait_until(lambda: seen)
        p.close()
        report(kind=seen[0].kind, msg=str(seen[0]))
    """)
    assert res["kind"] == "stream_error" and "disk on fire" in res["msg"]


def test_error_message_shape():
    err = AudioUnavailable("device_busy", "device 'hw:0' is busy", "Close the other program")
    assert err.kind == "device_busy" and str(err) == "device 'hw:0' is busy. Close the other program"
