Console.WriteLine("sample: see issue 3");
