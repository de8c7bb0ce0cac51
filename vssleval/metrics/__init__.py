"""vssleval.metrics"""
