"""Officers (people who crew units), their training and certifications."""
