"""What an operator does to accounts from the ``idp`` command: find, show, disable, enable,
delete (after a grace period)."""
