"""Services: booking, availability and session rules, written against the storage protocols."""
