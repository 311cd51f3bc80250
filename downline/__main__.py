from downline.cli import app

app(prog_name="downline")
