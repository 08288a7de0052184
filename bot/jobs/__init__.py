"""What runs on its own: deadlines (timers, link-request expiry) and polling Chaster."""
