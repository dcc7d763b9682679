"""simpose.eval"""
