"""From retrieved passages to a grounded answer: prompt, citations, abstention."""
