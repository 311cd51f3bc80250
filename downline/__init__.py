"""Downline: referral-graph analytics and settlement for social e-commerce platforms."""
