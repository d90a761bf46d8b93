"""Assembling the culture state machine and the `CultureAssistant` facade."""
