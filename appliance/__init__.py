"""Air-gapped DNSSEC KSK signing ceremony appliance."""

__version__ = "0.1.0"
