enum _PlaceholderWeChatPayHTTP {}
