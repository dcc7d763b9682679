"""simpose.models"""
