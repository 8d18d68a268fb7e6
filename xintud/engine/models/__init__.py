"""The shipped networks: manifest and sha256 checks, sessions, backbone and detector."""
