"""vssleval.engine"""
