"""``python -m jarvis_diag`` and the installed ``jarvis-diag`` command: the command line,
started so that a Ctrl-C while it is still loading is a clean stop too, not a traceback."""

import sys


def main() -> None:
    try:
        from jarvis_diag.cli import run
    except KeyboardInterrupt:
        sys.stderr.write("jarvis-diag: interrupted\n")
        raise SystemExit(130) from None
    run()


if __name__ == "__main__":
    main()
