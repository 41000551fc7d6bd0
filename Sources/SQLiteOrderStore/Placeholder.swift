enum _PlaceholderSQLiteOrderStore {}
