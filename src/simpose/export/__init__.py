"""simpose.export"""
