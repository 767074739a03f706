from jarvis_diag.cli import run

run()
