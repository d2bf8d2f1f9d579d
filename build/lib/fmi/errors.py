"""The one exception type fmi raises for problems a user can fix.

Scripts turn an ``FmiError`` into one line on stderr and exit code 2; anything
else is a bug and keeps its traceback.
"""


class FmiError(Exception):
    """A problem with the user's input, files or environment, with a message that says how to fix it."""
