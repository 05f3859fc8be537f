"""Hotline: a call-center backend for Chinese customer-service hotlines, beside Asterisk."""

__version__ = "0.1.0"
