"""vssleval.frontends"""
