"""simpose.body"""
