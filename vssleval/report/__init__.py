"""vssleval.report"""
