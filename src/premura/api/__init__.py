"""The REST API (Django Ninja): one NinjaAPI, routers from every app, JSON errors everywhere."""
