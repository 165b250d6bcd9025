"""The Textual app: ``progdemix-tui [PATH]`` (see :mod:`progdemix_tui.tui.app`).

A thin consumer of :mod:`progdemix_tui.engine`; the engine never imports this package.
"""
