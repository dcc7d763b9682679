"""simpose.viz"""
