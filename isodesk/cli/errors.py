"""The one exception the command line turns into a message and exit status 2."""


class UserError(Exception):
    """Something the user typed or pointed at is wrong; the message says what and where."""
