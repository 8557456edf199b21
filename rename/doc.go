package rename
