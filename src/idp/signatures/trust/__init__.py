"""The trust list of accredited CAs: reading lists (``formats``), storing them (``service``,
``repository``), serving them to verification (``store.TrustStore``) and refreshing them on a
schedule (``schedule``)."""
