"""simpose.track"""
