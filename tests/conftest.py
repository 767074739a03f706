"""Settings for the whole suite."""

import os

# Tests read the commands' terminal output as text, and rich wraps it at the terminal's width
# (80 columns when none is known). A fixed wide terminal keeps a long temporary path on one
# line, whatever terminal runs the suite and however long the temporary folder's name is.
# (A test about narrow terminals sets COLUMNS itself.)
os.environ["COLUMNS"] = "200"
