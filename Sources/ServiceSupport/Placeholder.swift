enum _ServiceSupportPlaceholder {}
