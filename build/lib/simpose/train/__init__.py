"""simpose.train"""
