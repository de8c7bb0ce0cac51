"""vssleval.models"""
