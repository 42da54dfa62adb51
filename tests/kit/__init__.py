"""The shared end-to-end test kit: host adapters, the stand-in, the harness every case calls
through, the secret oracle and the reports. See docs/conformance.md."""
