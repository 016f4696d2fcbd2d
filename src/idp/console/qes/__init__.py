"""The console's "Confirm with an e-signature" page (``/account/confirm``): a standard account
signs a challenge with its qualified certificate and becomes confirmed (issue 11)."""
