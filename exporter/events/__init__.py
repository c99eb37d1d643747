"""SES events: parsing (pure), bounded counting, and the consumer that feeds them."""
