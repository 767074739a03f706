from jarvis_diag.cli import main

main()
