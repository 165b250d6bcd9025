"""Evaluating progressive inference over a dataset: per-track runs, resumable on disk.

One module per job:

- :mod:`.settings`: the options (``--oracle-gain``, :class:`EvalSettings`) and the
  parameter comparison that decides resuming and merging;
- :mod:`.one_track`: one (track, target): the progressive run and the oracle-gain sweep;
- :mod:`.statistics`: result rows and their summaries over tracks;
- :mod:`.folder`: the output folder (``eval.json``, track files, csv/json tables, plots);
  :mod:`.documents` reads its files without trusting them;
- :mod:`.loop`: planning what is left and running it (:func:`evaluate`);
- :mod:`.merge`: merging shard folders.

The names below are the public API; import them from here.
"""

from .folder import (
    FORMAT,
    VERSION,
    EvalFolder,
    Tables,
    build_tables,
    finalize,
    to_csv,
    track_file_name,
    write_tables,
)
from .loop import EvalEvents, Plan, check_track_fits, evaluate, plan
from .merge import MergeReport, merge
from .one_track import TrackResult, evaluate_track, oracle_gain_sweep
from .settings import (
    EvalSettings,
    beta_to_gain,
    differences,
    gain_to_beta,
    parse_oracle_gains,
)
from .statistics import (
    ORACLE_COLUMNS,
    ROW_COLUMNS,
    SUMMARY_COLUMNS,
    SUMMARY_METRICS,
    oracle_rows,
    result_rows,
    summarize,
    summarize_oracle,
)

__all__ = [
    "FORMAT", "ORACLE_COLUMNS", "ROW_COLUMNS", "SUMMARY_COLUMNS", "SUMMARY_METRICS", "VERSION",
    "EvalEvents", "EvalFolder", "EvalSettings", "MergeReport", "Plan", "Tables", "TrackResult",
    "beta_to_gain", "build_tables", "check_track_fits", "differences", "evaluate",
    "evaluate_track", "finalize", "gain_to_beta", "merge", "oracle_gain_sweep", "oracle_rows",
    "parse_oracle_gains", "plan", "result_rows", "summarize", "summarize_oracle", "to_csv",
    "track_file_name", "write_tables",
]
