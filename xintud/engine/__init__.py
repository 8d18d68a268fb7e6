"""Engine: bytes and metadata in, facts and a category out — decode, analyze, decide. Pure."""
