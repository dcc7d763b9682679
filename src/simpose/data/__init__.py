"""simpose.data"""
