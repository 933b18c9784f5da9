"""The review gate (review.gate): the reviewer's one-screen summary of a preview, and the data-loss stop."""
