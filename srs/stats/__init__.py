"""Learning statistics: reviews per day, first-attempt success, retention, the due forecast."""
