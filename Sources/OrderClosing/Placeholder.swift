enum _PlaceholderOrderClosing {}
