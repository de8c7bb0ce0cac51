"""vssleval.data"""
