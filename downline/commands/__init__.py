"""The CLI's command groups, one module each; ``downline.cli`` assembles them."""
