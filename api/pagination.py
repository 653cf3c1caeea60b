from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """``?page=N&page_size=M``: 50 rows a page by default, 200 at most (a page is one bounded query)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
