"""Friends: requests, friendships and blocks between pairs of users."""
