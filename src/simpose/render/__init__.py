"""simpose.render"""
