"""simpose.adapt"""
