"""What Downline agrees with the outside on: settings from the environment (operators), money
and time as text (finance), and the CSV files (data teams). It imports no other package here."""
